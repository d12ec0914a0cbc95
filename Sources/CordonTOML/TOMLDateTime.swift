/// A TOML date, time or date-time: validated (month, day of the month, hour, minute, second,
/// offset all in range), kept with the text it was written as.
public struct TOMLDateTime: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// `1979-05-27T07:32:00Z`, `1979-05-27 00:32:00-07:00`.
        case offsetDateTime
        /// `1979-05-27T07:32:00`.
        case localDateTime
        /// `1979-05-27`.
        case localDate
        /// `07:32:00.999`.
        case localTime
    }

    public struct Date: Sendable, Hashable {
        public var year: Int
        public var month: Int
        public var day: Int

        public init(year: Int, month: Int, day: Int) {
            self.year = year
            self.month = month
            self.day = day
        }
    }

    public struct Time: Sendable, Hashable {
        public var hour: Int
        public var minute: Int
        public var second: Int
        /// The fraction of the second; digits past the ninth are dropped.
        public var nanosecond: Int

        public init(hour: Int, minute: Int, second: Int, nanosecond: Int = 0) {
            self.hour = hour
            self.minute = minute
            self.second = second
            self.nanosecond = nanosecond
        }
    }

    public var kind: Kind
    /// The value as written in the document.
    public var text: String
    public var date: Date?
    public var time: Time?
    /// Minutes east of UTC, for an offset date-time.
    public var offsetMinutes: Int?

    public var description: String { text }
}

import CordonOS
import CordonTestSupport
import Glibc

func linkHard(_ a: String, _ b: String) -> Int32 { link(a, b) }
func makeCharDevice(_ path: String, major: UInt32, minor: UInt32) -> Int32 {
    mknod(path, S_IFCHR | 0o600, __dev_t(DeviceNumber.make(major: major, minor: minor)))
}

import CordonSelftest
import Glibc

// `cordon selftest` hands over to this executable (execve), so that the attack suite stays out
// of the cordon binary, whose start-up time is benchmarked.
exit(SelftestMain.main(arguments: Array(CommandLine.arguments.dropFirst())))

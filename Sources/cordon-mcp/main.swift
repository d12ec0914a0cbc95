import CordonMCP
import Glibc

// `cordon mcp` hands over to this executable (execve), so that the MCP SDK, which links
// Foundation's networking and libcurl, stays out of the cordon binary: every sandbox's supervisor.
exit(MCPService.main(arguments: Array(CommandLine.arguments.dropFirst())))

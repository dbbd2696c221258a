// Package grpcplugin runs convert.Converter implementations as separate
// processes through hashicorp/go-plugin (gRPC protocol only), following the
// contract in convert/proto/converter.proto. It holds both halves:
//
//   - Plugin side (Go plugins): main calls [Serve] with any
//     convert.Converter. Plugins in other languages implement the same
//     contract themselves (see plugins/cascadio).
//   - Host side: [Open] starts a pool of plugin processes and returns a
//     [*Plugin], which implements convert.Converter and io.Closer and can
//     be registered in a convert.Registry like an in-process converter.
//
// # Isolation
//
// Each process handles one conversion at a time; Config.PoolSize processes
// are kept warm. Every call gets a private 0700 job directory: the input is
// copied in (a copy rather than a hard link, so a misbehaving plugin cannot
// alter the caller's file), the plugin writes its output there, and the host
// moves it to Request.OutputPath. Only paths cross the wire, never file
// contents (gRPC caps received messages at 4 MiB).
//
// A call that exceeds Config.Timeout (or whose context ends) kills its
// process and returns convert.ErrTimeout (or the context's error). A process
// that dies mid-call yields convert.ErrCrashed, with its exit status and the
// last lines of its stderr in the message. Either way the next call on that
// pool slot starts a fresh process; calls on other processes are not
// affected. On Linux each process's address space is capped with
// RLIMIT_AS (Config.MemoryLimit, default 4 GiB), set with prlimit(2) right
// after the handshake, so a plugin that runs away with memory fails its own
// allocation and crashes instead of starving the host. Processes it forks
// before the handshake are not capped. On other systems the limit is not
// applied.
//
// # Errors
//
// gRPC status codes from the plugin map back to the convert sentinels:
// UNIMPLEMENTED -> ErrUnsupportedFormat, INVALID_ARGUMENT -> ErrInvalidInput,
// DEADLINE_EXCEEDED -> ErrTimeout, UNAVAILABLE -> ErrUnavailable (or
// ErrCrashed when the process is gone), NOT_FOUND -> fs.ErrNotExist,
// CANCELLED -> context.Canceled. Anything else is a plain error carrying the
// plugin's message. [Serve] performs the reverse mapping.
//
// # Sockets
//
// Each process serves on a unix socket in a private directory the host
// creates inside the Plugin's directory in Config.TempDir and names in
// go-plugin's PLUGIN_UNIX_SOCKET_DIR, so sockets left by a host killed
// with SIGKILL are removed with that directory by [RemoveStale]. When the
// directory's path is too long for a unix socket path (107 bytes on
// Linux), the sockets go to a "partflow-sock-*" directory in the system's
// temporary directory instead, logged as a warning, linked from the
// Plugin's directory and removed with it.
//
// # Logs and environment
//
// The plugin's stderr is routed into Config.Logger: hclog JSON lines
// ({"@level","@message",...}) keep their level and fields, other lines are
// logged at debug level (go-plugin's rules). A plugin does not inherit the
// host's environment, which may hold credentials: it gets PATH, HOME,
// TMPDIR, LANG and LC_ALL from the host plus Config.Env.
package grpcplugin

// Sizes libuv's thread pool before anything uses it. fsync, LevelDB writes and spool reads all
// run there; the default of 4 threads made submissions queue behind each other's fsyncs.
process.env.UV_THREADPOOL_SIZE ??= '16';

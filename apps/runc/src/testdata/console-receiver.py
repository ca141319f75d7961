#!/usr/bin/env python3
# Test helper: plays containerd's side of runc's --console-socket. Listens on argv[1], receives the pty
# master with SCM_RIGHTS, writes what the container prints to stdout (until EIO/EOF) and the name it was sent with to stderr.
import array, os, socket, sys

path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
print("listening", flush=True, file=sys.stderr)
conn, _ = srv.accept()
fds = array.array("i")
msg, ancdata, _, _ = conn.recvmsg(1024, socket.CMSG_LEN(fds.itemsize))
for level, kind, data in ancdata:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
print("name=" + msg.decode(), flush=True, file=sys.stderr)
master = fds[0]
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    sys.stdout.write(chunk.decode(errors="replace"))
    sys.stdout.flush()

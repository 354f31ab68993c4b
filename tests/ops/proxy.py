"""A TCP proxy in a thread, to take PostgreSQL or Redis away from a process under test."""

import contextlib
import socket
import threading


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._open = True
        self._hanging_up = False
        self.hung_up = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.hung_up += self._hanging_up
                refused = not self._open or self._hanging_up
            if refused:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                # Taken away while this one was connecting: it must not get through afterwards.
                if not self._open or self._hanging_up:
                    client.close()
                    upstream.close()
                    continue
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _cut(self) -> None:
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def close(self) -> None:
        """Refuse new connections and cut the open ones, like a server that went away."""
        with self._lock:
            self._open = False
        with contextlib.suppress(OSError):
            self._listener.close()
        self._cut()

    def hang_up(self) -> None:
        """Cut the open connections and hang up on each new one once accepted: a server that is down, where
        every reconnection attempt of the process under test shows (`hung_up` counts them)."""
        with self._lock:
            self._hanging_up = True
        self._cut()

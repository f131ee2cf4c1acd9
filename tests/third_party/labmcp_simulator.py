"""Run in the labmcp-palmsens venv: its EmStat Pico simulator on a TCP socket, as a serial
bridge would serve an instrument. Prints ``listening PORT``."""

import socket
import sys
import time

from labmcp_palmsens.simulator import MethodScriptSimulator


def send(connection, lines) -> None:
    for text in [lines] if isinstance(lines, str) else lines or []:
        connection.sendall(f"{text}\n".encode())


def main() -> None:
    simulator = MethodScriptSimulator(speed=float(sys.argv[1]) if len(sys.argv) > 1 else 20.0)
    server = socket.create_server(("127.0.0.1", 0))
    print(f"listening {server.getsockname()[1]}", flush=True)
    connection, _ = server.accept()
    connection.setblocking(False)
    buffer = b""
    while True:
        send(connection, simulator.poll())
        try:
            data = connection.recv(4096)
        except BlockingIOError:
            time.sleep(0.005)
            continue
        if not data:
            return
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            send(connection, simulator.handle(line.decode()))


if __name__ == "__main__":
    main()

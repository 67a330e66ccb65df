"""Local WebRTC services for `dcsim probe`, on aiortc 1.16.

    python service.py [PORT]

One HTTP server on 127.0.0.1:PORT (0 or none: any free port), one service per path; every POST takes an offer and
answers it (JSON: {"sdp","type"} in and out; WHIP: application/sdp in, 201 + Location
and the answer out, DELETE ends it):

    /echo            JSON; echoes every message on every channel
    /whip            WHIP; the same echo
    /close-after-3   JSON; echoes, and closes the channel after 3 messages
    /never-open      JSON; answers, then closes its peer connection: the channel never opens
    /garbage         JSON; answers {"sdp": "this is not an SDP", "type": "answer"}
    /fail            HTTP 500

Prints "listening on PORT" (the port it got) once ready. Ends on SIGTERM or when stdin closes.
"""

import asyncio
import json
import sys

from aiortc import RTCPeerConnection, RTCSessionDescription

PEERS = set()
RESOURCES = {}


async def answer(offer_sdp, close_after=None, never_open=False):
    pc = RTCPeerConnection()
    PEERS.add(pc)

    @pc.on("datachannel")
    def on_datachannel(channel):
        count = {"n": 0}

        @channel.on("message")
        def on_message(message):
            channel.send(message)
            count["n"] += 1
            if close_after is not None and count["n"] >= close_after:
                channel.close()

    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    sdp = pc.localDescription.sdp
    if never_open:
        await pc.close()
    return pc, sdp


async def handle(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    method, path = (lines[0].split(" ") + ["", ""])[:2]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip() or 0)
    body = await reader.readexactly(length) if length else b""

    def reply(status, headers=(), payload=b""):
        out = [f"HTTP/1.1 {status}", f"Content-Length: {len(payload)}", "Connection: close"]
        out += [f"{k}: {v}" for k, v in headers]
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + payload)

    def offer_of(raw):
        try:
            return json.loads(raw)["sdp"]
        except (ValueError, KeyError, TypeError):
            return None

    def json_answer(sdp):
        return json.dumps({"sdp": sdp, "type": "answer"}).encode()

    try:
        if method == "POST" and path in ("/echo", "/close-after-3", "/never-open"):
            offer = offer_of(body)
            if offer is None:
                reply("400 Bad Request", payload=b"expected {\"sdp\", \"type\"}")
            else:
                _, sdp = await answer(
                    offer,
                    close_after=3 if path == "/close-after-3" else None,
                    never_open=path == "/never-open",
                )
                reply("200 OK", [("Content-Type", "application/json")], json_answer(sdp))
        elif method == "POST" and path == "/whip":
            pc, sdp = await answer(body.decode())
            key = str(len(RESOURCES))
            RESOURCES[key] = pc
            reply(
                "201 Created",
                [("Location", f"/whip/resource/{key}"), ("Content-Type", "application/sdp")],
                sdp.encode(),
            )
        elif method == "DELETE" and path.startswith("/whip/resource/"):
            pc = RESOURCES.pop(path.rsplit("/", 1)[-1], None)
            if pc is None:
                reply("404 Not Found")
            else:
                await pc.close()
                reply("200 OK")
        elif method == "POST" and path == "/garbage":
            reply("200 OK", [("Content-Type", "application/json")], json_answer("this is not an SDP"))
        elif method == "POST" and path == "/fail":
            reply("500 Internal Server Error", payload=b"oops")
        else:
            reply("404 Not Found")
        await writer.drain()
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()

    def watch_stdin():
        sys.stdin.read()
        loop.call_soon_threadsafe(stdin_closed.set_result, None)

    loop.run_in_executor(None, watch_stdin)
    async with server:
        await stdin_closed
    for pc in list(PEERS):
        await pc.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))

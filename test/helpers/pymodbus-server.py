"""A Modbus slave built on Debian's python3-pymodbus (3.0.x), for interoperability tests.

Usage: /usr/bin/python3 pymodbus-server.py MODE WHERE IMAGE.json [FAULTS.json]
  MODE   tcp (Modbus TCP), rtu-over-tcp (RTU frames over TCP) or rtu (serial line, 9600 8N1: pyserial
         cannot set even parity on a Linux pty, tcsetattr fails with EINVAL)
  WHERE  the TCP port on 127.0.0.1 (tcp, rtu-over-tcp) or the serial device path (rtu)
  IMAGE  JSON {"UNIT": {"hr": [..], "ir": [..], "co": [0/1..], "di": [0/1..], "values": [..]}} per
         unit id; addresses are zero-based (zero_mode=True), so list index = protocol address.
         "values" entries {"table": "hr"|"ir", "address", "type", "order", "value", "bit"?, "count"?}
         are encoded here with Python's struct module (independently of our TypeScript encoder).
  FAULTS optional JSON file, read again whenever it changes, that makes the slave misbehave on the wire
         (pymodbus still computes every answer):
         {"delay_ms": 700}         send each answer this late
         {"duplicate_ms": 40}      send each answer, then the same frame again this much later
         {"out_of_turn_ms": 130}   every this many ms, send the last answer again unasked
         {"short": true}           answer register reads with one register fewer (byte count too)
Prints READY on stdout once it serves (for rtu, once the port is open; for TCP the caller
should also wait until the port accepts connections). Stops on SIGTERM.
"""
import asyncio
import json
import os
import struct
import sys

from pymodbus.datastore import ModbusServerContext, ModbusSequentialDataBlock, ModbusSlaveContext
from pymodbus.server.async_io import ModbusBaseRequestHandler, ModbusSerialServer, ModbusTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer


FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f",
           "int64": ">q", "uint64": ">Q", "float64": ">d"}
BYTE_SWAP = {"BA", "BADC", "DCBA", "BADCFEHG", "HGFEDCBA"}
WORD_SWAP = {"CDAB", "DCBA", "GHEFCDAB", "HGFEDCBA"}


def encode(v):
    """Register values of one typed value: big-endian bytes, then the order's swaps."""
    if v["type"] == "string":
        raw = v["value"].encode("utf8").ljust(v["count"] * 2, b"\0")
    else:
        fmt = FORMATS[v["type"]]
        value = float(v["value"]) if fmt[-1] in "fd" else int(v["value"])
        raw = struct.pack(fmt, value)
    words = [raw[i:i + 2] for i in range(0, len(raw), 2)]
    if v.get("order", "ABCD") in WORD_SWAP:
        words.reverse()
    if v.get("order", "ABCD") in BYTE_SWAP:
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


def context(image):
    slaves = {}
    for unit, tables in image.items():
        for v in tables.get("values", []):
            block = tables.setdefault(v["table"], [])
            if v["type"] == "bool":
                regs = [int(v["value"]) << v["bit"]]
            else:
                regs = encode(v)
            while len(block) < v["address"] + len(regs):
                block.append(0)
            for i, r in enumerate(regs):
                block[v["address"] + i] |= r
        blocks = {
            name: ModbusSequentialDataBlock(0, tables.get(name, [0]) or [0])
            for name in ("hr", "ir", "co", "di")
        }
        slaves[int(unit)] = ModbusSlaveContext(zero_mode=True, **blocks)
    return ModbusServerContext(slaves=slaves, single=False)


class Faults:
    """The fault settings of FAULTS.json, reloaded when the file's mtime changes."""

    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.settings = {}

    def get(self):
        if not self.path:
            return {}
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return {}
        if mtime != self.mtime:
            try:
                with open(self.path, encoding="utf8") as f:
                    self.settings = json.load(f)
                self.mtime = mtime
            except ValueError:
                pass  # caught mid-write: keep the previous settings, read again next time
        return self.settings


def install_faults(faults):
    """Wraps pymodbus's send(): the answer is built by pymodbus, then delayed, doubled or replayed."""
    original = ModbusBaseRequestHandler.send
    state = {"last": None, "handler": None}

    def send(self, message, *addr, **kwargs):
        f = faults.get()
        if f.get("short") and hasattr(message, "registers") and len(message.registers) > 1:
            message.registers = message.registers[:-1]
        if not f or kwargs.get("skip_encoding") or not message.should_respond:
            return original(self, message, *addr, **kwargs)
        pdu = self.framer.buildPacket(message)
        state["last"], state["handler"] = pdu, self
        loop = asyncio.get_event_loop()
        delay = f.get("delay_ms", 0) / 1000
        loop.call_later(delay, self._send_, pdu)
        if f.get("duplicate_ms") is not None:
            loop.call_later(delay + f["duplicate_ms"] / 1000, self._send_, pdu)
        return None

    async def replay():
        while True:
            period = faults.get().get("out_of_turn_ms", 0)
            await asyncio.sleep(period / 1000 if period else 0.05)
            # Checked again after the sleep: no replay once the fault is cleared.
            if period and faults.get().get("out_of_turn_ms", 0) and state["last"] is not None:
                state["handler"]._send_(state["last"])

    ModbusBaseRequestHandler.send = send
    return replay


async def main(mode, where, image_file, faults_file=None):
    with open(image_file, encoding="utf8") as f:
        ctx = context(json.load(f))
    replay = install_faults(Faults(faults_file))
    asyncio.get_event_loop().create_task(replay())
    if mode == "rtu":
        server = ModbusSerialServer(
            ctx, framer=ModbusRtuFramer, port=where, baudrate=9600, parity="N", bytesize=8, stopbits=1,
            timeout=0.005, ignore_missing_slaves=True,
        )
        await server.start()
        print("READY", flush=True)
        await server.serve_forever()
    else:
        framer = ModbusSocketFramer if mode == "tcp" else ModbusRtuFramer
        server = ModbusTcpServer(ctx, framer, None, ("127.0.0.1", int(where)), ignore_missing_slaves=True)
        print("READY", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))

"""A Modbus slave built on Debian's python3-pymodbus (3.0.x), for interoperability tests.

Usage: /usr/bin/python3 pymodbus-server.py MODE WHERE IMAGE.json
  MODE   tcp (Modbus TCP), rtu-over-tcp (RTU frames over TCP) or rtu (serial line, 9600 8N1: pyserial
         cannot set even parity on a Linux pty, tcsetattr fails with EINVAL)
  WHERE  the TCP port on 127.0.0.1 (tcp, rtu-over-tcp) or the serial device path (rtu)
  IMAGE  JSON {"UNIT": {"hr": [..], "ir": [..], "co": [0/1..], "di": [0/1..], "values": [..]}} per
         unit id; addresses are zero-based (zero_mode=True), so list index = protocol address.
         "values" entries {"table": "hr"|"ir", "address", "type", "order", "value", "bit"?, "count"?}
         are encoded here with Python's struct module (independently of our TypeScript encoder).
Prints READY on stdout once it serves (for rtu, once the port is open; for TCP the caller
should also wait until the port accepts connections). Stops on SIGTERM.
"""
import asyncio
import json
import struct
import sys

from pymodbus.datastore import ModbusServerContext, ModbusSequentialDataBlock, ModbusSlaveContext
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
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


async def main(mode, where, image_file):
    with open(image_file, encoding="utf8") as f:
        ctx = context(json.load(f))
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
    asyncio.run(main(*sys.argv[1:4]))

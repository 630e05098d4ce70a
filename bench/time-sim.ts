/**
 * A raw node:net Modbus TCP responder without timers in its answer path (bench/latency.ts): every
 * request is answered in the same 'data' callback. Holding registers hold uint64 values (ABCD) laid
 * out like lib.ts `syntheticSite({layout: 'uint64'})`; every CHANGE_MS all of them are set to the
 * current time in ms, so a reading's value is the instant its value changed. Prints "listening <port>".
 */
import net from 'node:net';

const CHANGE_MS = Number(process.env.CHANGE_MS ?? 100);
const regs = Buffer.alloc(65536 * 2);
const starts: number[] = [];
for (let block = 0; block < 500; block++) for (let k = 0; k < 31; k++) starts.push(block * 125 + k * 4);

function change(): void {
  const now = BigInt(Date.now());
  for (const a of starts) regs.writeBigUInt64BE(now, a * 2);
}
change();
setInterval(change, CHANGE_MS);

const server = net.createServer((sock) => {
  sock.setNoDelay(true);
  let buf = Buffer.alloc(0);
  sock.on('data', (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 12) {
      const len = buf.readUInt16BE(4);
      if (buf.length < 6 + len) break;
      const fc = buf[7] as number;
      const addr = buf.readUInt16BE(8);
      const count = buf.readUInt16BE(10);
      let res: Buffer;
      if ((fc === 3 || fc === 4) && count >= 1 && count <= 125 && addr + count <= 65536) {
        res = Buffer.alloc(9 + count * 2);
        res.writeUInt16BE(buf.readUInt16BE(0), 0);
        res.writeUInt16BE(3 + count * 2, 4);
        res[6] = buf[6] as number;
        res[7] = fc;
        res[8] = count * 2;
        regs.copy(res, 9, addr * 2, (addr + count) * 2);
      } else {
        res = Buffer.alloc(9);
        res.writeUInt16BE(buf.readUInt16BE(0), 0);
        res.writeUInt16BE(3, 4);
        res[6] = buf[6] as number;
        res[7] = fc | 0x80;
        res[8] = 2; // illegal data address
      }
      sock.write(res);
      buf = buf.subarray(6 + len);
    }
  });
  sock.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address() as net.AddressInfo;
  console.log(`listening ${a.port}`);
});
process.on('SIGTERM', () => process.exit(0));

import mqtt from 'mqtt';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import { MOSQUITTO_BENCH_CONFIG, sleep } from './lib.ts';
for (const extra of ['', MOSQUITTO_BENCH_CONFIG]) {
  const b = await startMosquitto({ extraConfig: extra });
  const c1 = await mqtt.connectAsync(b.url, { clientId: 'x', clean: false });
  await c1.subscribeAsync('t', { qos: 1 });
  await c1.endAsync();
  const p = await mqtt.connectAsync(b.url, { clientId: 'p' });
  for (let i = 0; i < 500; i++) await p.publishAsync('t', Buffer.alloc(Number(process.env.SZ ?? 1000)), { qos: 1 });
  let n = 0;
  const c2 = mqtt.connect(b.url, { clientId: 'x', clean: false, manualConnect: true } as never);
  c2.handleMessage = (_p, cb) => { n++; cb(new Error('defer') as never); };
  c2.connect(); c2.on('connect', () => { if (process.env.RESUB) c2.subscribe({ t: { qos: 1 }, u: { qos: 1 }, v: { qos: 1 } }); });
  await sleep(Number(process.env.W ?? 1500));
  let live = 0;
  console.log('queued delivered without puback:', n, 'extra:', JSON.stringify(extra));
  c2.end(true); await p.endAsync(); await b.stop(); void live;
}

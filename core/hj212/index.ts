/**
 * HJ 212 (污染物在线监控（监测）系统数据传输标准), pure encoder/decoder: no I/O, no imports outside
 * core. The TCP uplink and the platform simulator live in `uplink/hj212/`.
 */
export * from './data.ts';
export * from './flags.ts';
export * from './frame.ts';
export * from './protocol.ts';

/**
 * Province partitions (docs/scale-out.md "Provinces and the national view", issue 14 item 2): a
 * deployment partitioned by province gives each province its own topics, collectors and store. The
 * province is one topic level after the protocol prefix, so the gateways of province 44 publish on
 * `mrv/v1/44/{unit}/{gateway}/data` (their site file's `gateway.mqtt.topicPrefix: mrv/v1/44`) and its
 * collectors (`mrv collector --province 44`) subscribe to `mrv/v1/44/+/+/data` only; on NATS JetStream
 * the province has its own streams, `MRV_BATCHES_44` over `mrv.v1.44.*.*.data|backlog` and
 * `MRV_GATEWAYS_44` over `mrv.v1.44.*.*.meta|status`, so each province's retention, limits, replicas and
 * placement are set, watched and purged on their own, and no stream's subjects overlap another's (the
 * unpartitioned `mrv.v1.*.*.data` has one token fewer).
 *
 * The province is spelled as the unit registry spells its units' `province` (core/schema/unit-registry.ts),
 * which is also how regulators' tokens scope it; as a topic level and a stream name it must be a short
 * code: the GB/T 2260 code (`44` 广东, `32` 江苏) is the usual choice.
 */
import { MrvError } from '../errors.ts';

/** What a province code may hold: letters, digits, `_` and `-` (a topic level, a subject token, a stream name). */
export const PROVINCE_CODE = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Checks that a province can partition topics, subjects and stream names.
 * @throws MrvError `MRV_E_CONFIG` naming the province and what is allowed
 */
export function checkProvinceCode(province: string): void {
  if (!PROVINCE_CODE.test(province))
    throw new MrvError(
      'MRV_E_CONFIG',
      `province "${province}": a province partition is a topic level and a stream name, so use letters, digits, "_" or "-" (at most 32), e.g. the GB/T 2260 code 44; register the units with the same spelling (units.yaml province)`,
      { province },
    );
}

/** The topic prefix of a province's gateways and collectors: `{prefix}/{province}` (`mrv/v1/44`). */
export function provinceTopicPrefix(prefix: string, province: string): string {
  checkProvinceCode(province);
  return `${prefix}/${province}`;
}

/** The JetStream names of a province partition: its batch and catalogue streams (`MRV_BATCHES_44`, `MRV_GATEWAYS_44`). */
export function provinceStreamNames(
  province: string,
  base: { batchStream: string; gatewayStream: string },
): { batchStream: string; gatewayStream: string } {
  checkProvinceCode(province);
  return {
    batchStream: `${base.batchStream}_${province}`,
    gatewayStream: `${base.gatewayStream}_${province}`,
  };
}

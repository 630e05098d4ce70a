/**
 * Device templates of a site file (issue 15 item 1): a meter model's register map — points with their
 * tables, addresses, types, orders, scales, units and poll groups, plus device defaults such as
 * `timeoutMs` — written once and instantiated per device with its own address, unit id, meter and
 * point-id prefix. Templates live under `templates:` in the site file or in files named by
 * `templateFiles:` (relative to the site file; `templates/` ships the register maps of the simulators'
 * meters). Expansion happens before validation, and every problem found in an expanded device is
 * reported at the line of the template (or of the device's own override) it came from.
 *
 * ```yaml
 * templates:
 *   - id: belt-scale-v2
 *     driver: modbus-tcp
 *     defaults: { timeoutMs: 1500 }
 *     points:
 *       - { id: rate, table: holding, address: 0, type: float32, unit: t/h }
 *       - { id: total, table: holding, address: 2, type: uint32, scale: 0.001, unit: t }
 * devices:
 *   - id: feeder-a
 *     template: belt-scale-v2
 *     host: 10.0.0.21
 *     unitId: 3
 *     meter: feeder-a-scale        # every point's meter unless the template point names one
 *     pointPrefix: feeder_a        # point ids feeder_a.rate, feeder_a.total (default: the device id)
 *     points:                      # optional: override a template point by its id, or add points
 *       - { id: total, parameter: cement.raw_meal }
 * ```
 */
import { z } from 'zod';
import { Identifier } from '../core/schema/wire.ts';
import { suggest } from '../core/suggest.ts';

/** A path into a YAML document, as zod reports it. */
export type Path = readonly PropertyKey[];

/** One device template (a meter model's register map). */
export const DeviceTemplate = z
  .object({
    id: Identifier.describe('template id, named by a device as `template: ID`'),
    description: z.string().optional(),
    driver: z
      .string()
      .min(1)
      .optional()
      .describe('driver of every device made from it (a device may say its own)'),
    defaults: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        'device fields every instance gets unless it says otherwise (timeoutMs, pollIntervalMs, ...)',
      ),
    points: z.array(z.looseObject({ id: Identifier })).min(1, 'a template needs at least one point'),
  })
  .strict();
export type DeviceTemplate = z.infer<typeof DeviceTemplate>;

/** A file of templates named by `templateFiles:`. */
export const TemplateFile = z
  .object({ version: z.literal(1).default(1), templates: z.array(z.unknown()) })
  .strict();

/** Where a template was written: the site file (`site`) or the n-th of its `templateFiles`. */
export type TemplateSource = 'site' | number;

/** A template as read, with where it was written. */
export interface SourcedTemplate {
  /** The template's raw value (validated by {@link expandTemplates}). */
  raw: unknown;
  source: TemplateSource;
  /** Its index under `templates:` in that source. */
  index: number;
}

/** Where a value of the expanded site came from: a source and a path inside it. */
export interface Origin {
  source: TemplateSource;
  path: Path;
}

/** A problem of the templates themselves (unknown template, bad template, clashing ids). */
export interface TemplateProblem {
  origin: Origin;
  message: string;
}

/** Device fields that only instantiate a template and are not passed to the driver. */
const INSTANCE_FIELDS = new Set(['template', 'pointPrefix', 'meter']);

/**
 * Expands every `template:` device of a raw site value into a plain device.
 * @param site the site file's parsed value (`templates` and `templateFiles` are removed from the result)
 * @param templates every template of the site and its template files, in order
 * @returns the expanded site; `origin(path)` maps a path of the expanded site to where it was written;
 *   `problems` for templates that do not parse, clash or are unknown (those devices stay unexpanded)
 */
export function expandTemplates(
  site: unknown,
  templates: readonly SourcedTemplate[],
): { value: unknown; origin: (path: Path) => Origin; problems: TemplateProblem[] } {
  const problems: TemplateProblem[] = [];
  const byId = new Map<string, { t: DeviceTemplate; at: SourcedTemplate }>();
  for (const at of templates) {
    const r = DeviceTemplate.safeParse(at.raw);
    if (!r.success) {
      for (const i of r.error.issues)
        problems.push({
          origin: { source: at.source, path: ['templates', at.index, ...i.path] },
          message:
            i.code === 'unrecognized_keys'
              ? `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}`
              : i.message,
        });
      continue;
    }
    if (byId.has(r.data.id))
      problems.push({
        origin: { source: at.source, path: ['templates', at.index, 'id'] },
        message: `duplicate template id "${r.data.id}"`,
      });
    else byId.set(r.data.id, { t: r.data, at });
  }
  if (typeof site !== 'object' || site === null || Array.isArray(site))
    return { value: site, origin: (path) => ({ source: 'site', path }), problems };
  const { templates: _t, templateFiles: _f, ...rest } = site as Record<string, unknown>;
  const devices = rest.devices;
  // Per expanded device index: how to map paths under it back to what was written.
  const mapped = new Map<number, (sub: Path) => Origin>();
  if (Array.isArray(devices))
    rest.devices = devices.map((device: unknown, i: number) => {
      if (typeof device !== 'object' || device === null) return device;
      const d = device as Record<string, unknown>;
      if (d.template === undefined) return device;
      const name = String(d.template);
      const found = byId.get(name);
      if (!found) {
        const near = suggest(name, [...byId.keys()]);
        problems.push({
          origin: { source: 'site', path: ['devices', i, 'template'] },
          message: `unknown template "${name}"${near ? `; did you mean "${near}"?` : ''}; templates: ${
            [...byId.keys()].join(', ') || '(none: declare them under templates: or in templateFiles:)'
          }`,
        });
        return device;
      }
      const { t, at } = found;
      const prefix = typeof d.pointPrefix === 'string' ? d.pointPrefix : String(d.id ?? t.id);
      const own = Array.isArray(d.points) ? (d.points as unknown[]) : [];
      const overrideOf = (id: string) =>
        own.findIndex((o) => typeof o === 'object' && o !== null && (o as { id?: unknown }).id === id);
      const points: unknown[] = [];
      const pointOrigins: ((sub: Path) => Origin)[] = [];
      t.points.forEach((tp, j) => {
        const k = overrideOf(tp.id);
        const override = k >= 0 ? (own[k] as Record<string, unknown>) : {};
        const p: Record<string, unknown> = { ...tp };
        if (d.meter !== undefined && p.meter === undefined) p.meter = d.meter;
        Object.assign(p, override);
        p.id = `${prefix}.${tp.id}`;
        points.push(p);
        pointOrigins.push((sub) => {
          const field = sub[0];
          if (k >= 0 && field !== undefined && field in override)
            return { source: 'site', path: ['devices', i, 'points', k, ...sub] };
          if (field === 'meter' && tp.meter === undefined && d.meter !== undefined)
            return { source: 'site', path: ['devices', i, 'meter'] };
          return { source: at.source, path: ['templates', at.index, 'points', j, ...sub] };
        });
      });
      own.forEach((o, k) => {
        const id = (o as { id?: unknown })?.id;
        if (typeof id === 'string' && t.points.some((tp) => tp.id === id)) return; // an override
        points.push(o); // an extra point, its id as written
        pointOrigins.push((sub) => ({ source: 'site', path: ['devices', i, 'points', k, ...sub] }));
      });
      const out: Record<string, unknown> = { ...(t.defaults ?? {}) };
      if (t.driver !== undefined) out.driver = t.driver;
      for (const [key, v] of Object.entries(d))
        if (!INSTANCE_FIELDS.has(key) && key !== 'points') out[key] = v;
      out.points = points;
      mapped.set(i, (sub) => {
        const [field, j, ...more] = sub;
        if (field === 'points' && typeof j === 'number' && pointOrigins[j]) return pointOrigins[j](more);
        if (field === 'points') return { source: 'site', path: ['devices', i, ...sub] };
        if (typeof field === 'string' && !(field in d)) {
          if (field === 'driver' && t.driver !== undefined)
            return { source: at.source, path: ['templates', at.index, 'driver'] };
          if (t.defaults && field in t.defaults)
            return { source: at.source, path: ['templates', at.index, 'defaults', field, ...sub.slice(1)] };
        }
        return { source: 'site', path: ['devices', i, ...sub] };
      });
      return out;
    });
  const origin = (path: Path): Origin => {
    const [top, i, ...sub] = path;
    const m = top === 'devices' && typeof i === 'number' ? mapped.get(i) : undefined;
    return m ? m(sub) : { source: 'site', path };
  };
  return { value: rest, origin, problems };
}

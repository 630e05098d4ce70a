/**
 * Formats of the dashboard: every time in China Standard Time with the zone shown
 * (`2026-12-06 14:03 UTC+8`), ratios as percentages, decimal strings as sent (never through a float).
 */

const CST = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** Parts of an instant in UTC+8. */
function cstParts(ms: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of CST.formatToParts(new Date(ms))) out[p.type] = p.value;
  return out;
}

/**
 * An instant (ISO-8601 with any offset, or ms epoch) as `yyyy-mm-dd HH:MM UTC+8` (with `:ss` when
 * `seconds`); `—` for null/undefined or text that is no time.
 */
export function formatTime(t: string | number | null | undefined, seconds = false): string {
  if (t === null || t === undefined) return '—';
  const ms = typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return '—';
  const p = cstParts(ms);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${seconds ? `:${p.second}` : ''} UTC+8`;
}

/** The UTC+8 calendar month `yyyy-mm` of an instant (ms epoch). */
export function cstMonth(ms: number): string {
  const p = cstParts(ms);
  return `${p.year}-${p.month}`;
}

/** The month before `yyyy-mm`. */
export function previousMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
}

/** A ratio string (`"0.9875"`) as `98.8 %`; `—` when null. */
export function formatRatio(ratio: string | null | undefined): string {
  if (ratio === null || ratio === undefined) return '—';
  const n = Number(ratio);
  return Number.isFinite(n) ? `${(n * 100).toFixed(1)} %` : '—';
}

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;

/**
 * The half of a bilingual text for `lang`: site files write names as `中文 English`
 * (`出铝真空抬包电子吊秤 Vacuum-ladle crane scale`) and descriptions as `English / 中文`. A text that is
 * not visibly bilingual is returned whole.
 */
export function pickLang(text: string | null | undefined, lang: string): string {
  if (!text) return '';
  const at = text.lastIndexOf(' / ');
  if (at > 0) {
    const a = text.slice(0, at);
    const b = text.slice(at + 3);
    const zh = CJK.test(a) && !CJK.test(b) ? a : CJK.test(b) && !CJK.test(a) ? b : undefined;
    if (zh !== undefined) return (lang === 'en' ? (zh === a ? b : a) : zh).trim();
  }
  // The English half has no CJK character and no full-width punctuation (`合格（等级 III）` is one text).
  const m =
    /^([^A-Za-z]*[\u3400-\u9fff][^A-Za-z]*?)\s+([A-Za-z][^\u3000-\u303f\u3400-\u9fff\uff00-\uffef]*)$/.exec(
      text,
    );
  if (m) return (lang === 'en' ? (m[2] as string) : (m[1] as string)).trim();
  return text;
}

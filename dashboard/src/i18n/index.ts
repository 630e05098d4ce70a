/**
 * The dashboard's vue-i18n instance (composition mode): zh-CN by default, English on request; the
 * choice is kept in localStorage (`mrv.lang`, shared with the classic page at `/classic/`). {@link enumLabel}
 * translates an enum the API answers (meter kind, unit of measure, state, role).
 */
import { createI18n } from 'vue-i18n';
import { en } from './en.ts';
import { type MessageSchema, zhCN } from './zh-CN.ts';

/** The languages the dashboard speaks. */
export const LANGS = ['zh-CN', 'en'] as const;
export type Lang = (typeof LANGS)[number];

const STORAGE_KEY = 'mrv.lang';

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'zh-CN') return saved;
  } catch {
    // storage disabled: the default
  }
  return 'zh-CN';
}

/** Messages by language. */
export const MESSAGES: Record<Lang, MessageSchema> = { 'zh-CN': zhCN, en };

export const i18n = createI18n<[MessageSchema], Lang, false>({
  legacy: false,
  locale: initialLang(),
  fallbackLocale: 'zh-CN',
  messages: MESSAGES,
  missingWarn: false,
  fallbackWarn: false,
});

/** Switches the language, remembers it and sets `<html lang>`. */
export function setLang(lang: Lang): void {
  i18n.global.locale.value = lang;
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

/** Groups of enum translations in the messages. */
export type EnumGroup =
  | 'unitStatus'
  | 'completeness'
  | 'quality'
  | 'calibration'
  | 'role'
  | 'industry'
  | 'meterKind'
  | 'uom'
  | 'configKey'
  | 'configMode'
  | 'auditAction'
  | 'auditTarget';

/** Groups with an `other` entry, shown for a value the dashboard does not know yet. */
const WITH_OTHER: readonly EnumGroup[] = ['meterKind', 'auditAction', 'auditTarget'];

/**
 * The current language's text of `value` in `group` (`enumLabel('meterKind', 'crane-scale')` → 吊秤),
 * read from the messages directly (unit symbols such as `Nm³/h` are not valid message paths). An
 * unknown meter kind, audit action or audit target reads as "other"; any other unknown value is shown as the server sent it
 * (a unit symbol we have no name for is still a symbol).
 */
export function enumLabel(group: EnumGroup, value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  const table = MESSAGES[i18n.global.locale.value as Lang][group] as Record<string, string>;
  const hit = table[value];
  if (hit !== undefined) return hit;
  if (WITH_OTHER.includes(group)) return table.other ?? value;
  return value;
}

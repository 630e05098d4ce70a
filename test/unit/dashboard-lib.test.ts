/**
 * Helpers of the Vue dashboard's findings and ledger pages (dashboard/src/lib/): the bilingual split of
 * site-file texts, files checked before upload, who an audit row names, and API errors as message keys.
 */
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../dashboard/src/api/client.ts';
import { actorLabel } from '../../dashboard/src/lib/actor.ts';
import { apiErrorKey, apiErrorText } from '../../dashboard/src/lib/api-errors.ts';
import { contentTypeOf, fileProblem, formatBytes } from '../../dashboard/src/lib/files.ts';
import { pickLang } from '../../dashboard/src/lib/format.ts';

const PDF = ['application/pdf', 'image/png', 'image/jpeg'] as const;
const file = (name: string, bytes: number, type = '') => new File([new Uint8Array(bytes)], name, { type });
/** A stand-in for vue-i18n's `t`: the key and its parameters, so the tests see what was asked for. */
const t = (key: string, named?: Record<string, unknown>) => (named ? `${key}${JSON.stringify(named)}` : key);

describe('pickLang', () => {
  it('splits "中文 English" and "English / 中文", and keeps a Chinese text with Latin letters whole', () => {
    expect(pickLang('示范市计量测试研究所 Demo City Institute of Metrology', 'en')).toBe(
      'Demo City Institute of Metrology',
    );
    expect(pickLang('示范市计量测试研究所 Demo City Institute of Metrology', 'zh-CN')).toBe(
      '示范市计量测试研究所',
    );
    expect(pickLang('校准值见证书 / see certificate', 'en')).toBe('see certificate');
    expect(pickLang('合格 pass', 'zh-CN')).toBe('合格');
    expect(pickLang('合格（准确度等级 III）', 'zh-CN')).toBe('合格（准确度等级 III）');
    expect(pickLang('合格（准确度等级 III）', 'en')).toBe('合格（准确度等级 III）');
  });
});

describe('files before upload', () => {
  it('refuses an empty, an oversize and an unlisted file; judges a typeless file by its extension', () => {
    expect(fileProblem(file('a.pdf', 10, 'application/pdf'), PDF, 100)).toBeUndefined();
    expect(fileProblem(file('a.pdf', 0, 'application/pdf'), PDF, 100)).toBe('empty');
    expect(fileProblem(file('a.pdf', 101, 'application/pdf'), PDF, 100)).toBe('tooLarge');
    expect(fileProblem(file('a.exe', 10, 'application/x-msdownload'), PDF, 100)).toBe('badType');
    expect(fileProblem(file('scan.JPG', 10), PDF, 100)).toBeUndefined();
    expect(contentTypeOf(file('scan.JPG', 10))).toBe('image/jpeg');
    expect(fileProblem(file('notes', 10), PDF, 100)).toBe('badType');
    expect([formatBytes(512), formatBytes(34 * 1024), formatBytes(2 * 1024 * 1024)]).toEqual([
      '512 B',
      '34 KiB',
      '2.0 MiB',
    ]);
  });
});

describe('actorLabel', () => {
  it('names accounts by username, tokens, the CLI and the server', () => {
    expect(actorLabel(t, 'account:ent-a')).toBe('ent-a');
    expect(actorLabel(t, 'token:1a2b3c4d')).toBe('findings.actor.token{"id":"1a2b3c4d"}');
    expect(actorLabel(t, 'cli:root')).toBe('findings.actor.cli{"id":"root"}');
    expect(actorLabel(t, 'server:site-file')).toBe('findings.actor.server');
    expect(actorLabel(t, undefined)).toBe('—');
  });
});

describe('API errors', () => {
  it('maps catalogue codes first, then the status, then generic; no answer is a network error', () => {
    expect(apiErrorKey(new ApiError(409, 'MRV_E_FINDING_TRANSITION', 'cannot close'))).toBe(
      'apiError.transition',
    );
    expect(apiErrorKey(new ApiError(409, 'MRV_E_LEDGER_CONFLICT', 'x'))).toBe('apiError.ledgerConflict');
    expect(apiErrorKey(new ApiError(403, 'MRV_E_FORBIDDEN', 'x'))).toBe('apiError.forbidden');
    expect(apiErrorKey(new ApiError(415, 'HTTP_415', 'x'))).toBe('apiError.unsupportedMedia');
    expect(apiErrorKey(new ApiError(500, 'MRV_E_INTERNAL', 'x'))).toBe('apiError.generic');
    expect(apiErrorKey(new TypeError('fetch failed'))).toBe('apiError.network');
    expect(apiErrorText(t, new ApiError(403, 'MRV_E_FORBIDDEN', 'role x may not'))).toBe(
      'apiError.forbidden{"code":"MRV_E_FORBIDDEN"} (MRV_E_FORBIDDEN)',
    );
    // A 400 keeps the server's sentence: it names the field.
    expect(apiErrorText(t, new ApiError(400, 'MRV_E_BAD_REQUEST', 'validUntil: not a date'))).toBe(
      'apiError.badRequest{"code":"MRV_E_BAD_REQUEST"} (MRV_E_BAD_REQUEST): validUntil: not a date',
    );
  });
});

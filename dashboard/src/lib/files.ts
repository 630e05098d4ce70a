/**
 * Files picked in the browser for the API's JSON uploads (a finding's attachment, a certificate's
 * scan): checked here first (type and size, so a plant engineer hears at once what the server would
 * refuse; the server still checks the bytes themselves), then read as base64 without the `data:` prefix.
 */

/** Why a file is refused before upload: too large, or of a type the route does not take. */
export type FileProblem = 'tooLarge' | 'badType' | 'empty';

/**
 * The problem of `file` for an upload taking `types` (MIME types) up to `maxBytes`, or undefined when
 * it fits. A file whose browser-reported type is empty is judged by its extension.
 */
export function fileProblem(file: File, types: readonly string[], maxBytes: number): FileProblem | undefined {
  if (file.size === 0) return 'empty';
  if (file.size > maxBytes) return 'tooLarge';
  return types.includes(contentTypeOf(file)) ? undefined : 'badType';
}

const BY_EXTENSION: Record<string, string> = {
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  txt: 'text/plain',
  csv: 'text/csv',
};

/** The file's MIME type as the browser reports it, else from its extension (`''` when unknown). */
export function contentTypeOf(file: File): string {
  if (file.type !== '') return file.type;
  const ext = /\.([A-Za-z0-9]+)$/.exec(file.name)?.[1]?.toLowerCase() ?? '';
  return BY_EXTENSION[ext] ?? '';
}

/** The file's bytes as base64 (no `data:` prefix). @throws the reader's error */
export function readBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',')[1] ?? '');
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** A size in bytes for people: `512 B`, `34 KiB`, `1.5 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.ceil(n / 1024)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

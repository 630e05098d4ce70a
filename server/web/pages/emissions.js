// Emissions by kind (issue 18 item 7) on the evidence page: each figure of the package's `emissions`
// (core/domain/emissions.ts) with its gas, mass, CO2-equivalent and method, the formula with its inputs
// in their own units (and the rescaled value where a factor applies per another unit), and every factor
// with its value, unit, source and whether it is confirmed against the official text; then the total,
// the factor pack (id, version, GWP set, digest) and what could not be computed.
import { currentLang, t } from '../i18n.js';
import { badge, el } from '../lib.js';
import { dataTable, label } from './common.js';

/** One input as `parameter = value unit (= converted unit)`. */
function inputText(i) {
  const conv = i.converted ? ` = ${i.converted.value} ${i.converted.unit}` : '';
  return `${i.parameter} = ${i.value} ${i.unit}${conv}`;
}

/** One factor: `id = value unit`, its confirmed/unconfirmed badge and its source. */
function factorCell(f) {
  return el(
    'li',
    { 'data-factor': f.id },
    el('code', { text: `${f.id} = ${f.value} ${f.unit}` }),
    ' ',
    f.confirmed
      ? badge('q-good', `${t('confirmedFactor')}${f.clause ? ` · ${f.clause}` : ''}`)
      : badge('q-uncertain', t('unconfirmedFactor')),
    el('div', { class: 'sub', text: f.source ?? '' }),
  );
}

/**
 * The `<section id="emissions-by-kind">` of a package (an empty section with a notice when the
 * package has no emission figures).
 */
export function emissionsSection(pkg) {
  const em = pkg?.emissions;
  const section = el(
    'section',
    { id: 'emissions-by-kind', 'aria-labelledby': 'emissions-heading' },
    el('h4', { id: 'emissions-heading', text: t('emissionsByKind') }),
  );
  if (!em || !Array.isArray(em.items)) return section;
  const fp = em.factorPack ?? {};
  section.append(
    el(
      'p',
      { class: 'sub', 'data-field': 'factor-pack' },
      `${t('factorPackLabel')}: `,
      el('code', { text: `${fp.id ?? '?'}@${fp.packVersion ?? '?'}` }),
      ` · GWP ${fp.gwpSet ?? '?'}`,
      fp.digest ? el('span', {}, ' · sha256 ', el('code', { text: fp.digest })) : null,
    ),
  );
  if (em.items.length === 0) section.append(el('p', { class: 'notice', text: t('noEmissions') }));
  else {
    const heads = [
      'colEmissionKind',
      'colGas',
      'colMassT',
      'colCo2eT',
      'colMethod',
      'colFormula',
      'colFactors',
    ];
    const rows = em.items.map((i) =>
      el(
        'tr',
        { 'data-emission': i.id },
        el(
          'th',
          { scope: 'row' },
          el('div', { text: currentLang() === 'en' ? i.nameEn : i.nameZh }),
          el('div', { class: 'sub', text: i.id }),
        ),
        el('td', { text: i.gas }),
        el('td', { class: 'num', text: i.mass ?? '—' }),
        el('td', { class: 'num', 'data-field': 'co2e', text: i.co2e }),
        el('td', { text: label(i.method) }),
        el(
          'td',
          {},
          el('div', { text: i.formula }),
          ...(i.inputs ?? []).map((x) => el('div', { class: 'sub', text: inputText(x) })),
        ),
        el('td', {}, el('ul', { class: 'factors' }, ...(i.factors ?? []).map(factorCell))),
      ),
    );
    rows.push(
      el(
        'tr',
        { 'data-emission': 'total' },
        el('th', { scope: 'row', text: t('emissionsTotal') }),
        el('td', { text: 'CO2e' }),
        el('td', {}),
        el('td', { class: 'num', 'data-field': 'total', text: em.totalCo2e }),
        el('td', {}),
        el('td', {}),
        el('td', {}),
      ),
    );
    section.append(dataTable({ id: 'emissions-table' }, undefined, heads, el('tbody', {}, ...rows)));
  }
  const unconfirmed = em.unconfirmedFactors ?? [];
  if (unconfirmed.length > 0)
    section.append(
      el(
        'p',
        { class: 'sub', 'data-field': 'unconfirmed-factors' },
        `${t('unconfirmedFactorsN')} (${unconfirmed.length}): `,
        el('code', { text: unconfirmed.join(', ') }),
      ),
    );
  const notes = em.notes ?? [];
  if (notes.length > 0)
    section.append(
      el('p', { class: 'sub', text: `${t('emissionNotes')}:` }),
      el('ul', { 'data-field': 'emission-notes' }, ...notes.map((n) => el('li', { text: n }))),
    );
  return section;
}

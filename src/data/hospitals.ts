// The three-hospital (or N-site) demo data set: cardiovascular-risk records generated from
// one stated model, then written the way independent sites really keep them — columns in
// different orders, other units of the same quantity (glucose and cholesterol in mg/dL
// instead of mmol/L, blood pressure in kPa instead of mmHg), categories spelled differently
// (F/M, Y/N), missing values, and different file formats (CSV, Parquet, Arrow). The
// consortium schema (hospitalSchema) says what each column means, so a member validates and
// harmonises its file; without it the sites disagree on what column 3 is.
//
// Construction (per patient, site s shifts the age and glucose distributions):
//   age ~ N(58 + 4s, 11) clipped to [25, 95]; sex ~ Bernoulli(0.5); smoker ∈ {never, former,
//   current} with p = (0.5, 0.3, 0.2); bmi ~ N(27, 4.5); systolic ~ N(110 + 0.45·age, 14) mmHg;
//   glucose ~ N(5.2 + 0.6s·0.3, 1.1) + 0.02·(bmi − 27) mmol/L; cholesterol ~ N(5.1, 0.9) mmol/L;
//   risk = −0.4 + 0.055(age − 60) + 0.035(systolic − 137) + 0.55(glucose − 5.4) + 0.45(cholesterol − 5.1)
//          + 0.08(bmi − 27) + 0.35·male + (0, 0.35, 0.8)[smoker]
//   outcome = "high" with probability sigmoid(1.6·risk), else "low";
//   follow-up: event time ~ Exponential(rate 0.0004·e^{0.7·risk}) days, censored at U(365, 1825).
// Missing: glucose, cholesterol, bmi and smoker are left empty in 4–8 % of records at sites ≥ 1.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { gaussian, seededRandom, type Random } from '../core/random.js';
import { type DataSchema, validateDataSchema } from './schema/schema.js';

export const GLUCOSE_MOLAR_MASS = 180.156;
export const CHOLESTEROL_MOLAR_MASS = 386.654;

export const HOSPITAL_SCHEMA_VALUE = {
  name: 'cardio-risk',
  version: 1,
  label: 'outcome',
  fields: [
    { name: 'patient_id', type: 'identifier', concept: { system: 'FHIR', code: 'Patient.identifier' } },
    { name: 'age', type: 'number', unit: 'year', range: [18, 110], concept: { system: 'OMOP', code: '4265453', display: 'Age' } },
    { name: 'sex', type: 'category', values: ['female', 'male'], synonyms: { F: 'female', M: 'male', f: 'female', m: 'male' }, concept: { system: 'FHIR', code: 'Patient.gender' } },
    { name: 'smoker', type: 'category', values: ['never', 'former', 'current'], missing: 'allowed', concept: { system: 'LOINC', code: '72166-2', display: 'Tobacco smoking status' } },
    { name: 'bmi', type: 'number', unit: 'kg/m^2', range: [10, 70], missing: 'allowed', concept: { system: 'LOINC', code: '39156-5', display: 'Body mass index' } },
    { name: 'systolic_bp', type: 'number', unit: 'mmHg', range: [60, 260], concept: { system: 'LOINC', code: '8480-6', display: 'Systolic blood pressure' } },
    { name: 'glucose', type: 'number', unit: 'mmol/L', molarMass: GLUCOSE_MOLAR_MASS, range: [1, 40], missing: 'allowed', concept: { system: 'LOINC', code: '15074-8', display: 'Glucose [Moles/volume] in Blood' } },
    { name: 'cholesterol', type: 'number', unit: 'mmol/L', molarMass: CHOLESTEROL_MOLAR_MASS, range: [1, 20], missing: 'allowed', concept: { system: 'LOINC', code: '14647-2', display: 'Cholesterol [Moles/volume] in Serum or Plasma' } },
    { name: 'followup', type: 'number', unit: 'day', range: [0, 3650], feature: false, concept: { system: 'OMOP', code: '4306655', display: 'Follow-up time' } },
    { name: 'event', type: 'boolean', feature: false, concept: { system: 'OMOP', code: '4306655', display: 'Death' } },
    { name: 'outcome', type: 'category', values: ['low', 'high'], concept: { system: 'SNOMED', code: '315016007', display: 'Cardiovascular risk' } },
  ],
};

export function hospitalSchema(): DataSchema {
  return validateDataSchema(HOSPITAL_SCHEMA_VALUE, 'hospital schema');
}

/** One patient in schema units. */
export interface Patient {
  patient_id: string;
  age: number;
  sex: 'female' | 'male';
  smoker: 'never' | 'former' | 'current' | null;
  bmi: number | null;
  systolic_bp: number;
  glucose: number | null;
  cholesterol: number | null;
  followup: number;
  event: boolean;
  outcome: 'low' | 'high';
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
const clip = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

function pick(random: Random, p: number[]): number {
  let u = random();
  for (let i = 0; i < p.length; i++) if ((u -= p[i]!) < 0) return i;
  return p.length - 1;
}

export function generatePatients(site: number, count: number, seed = 12): Patient[] {
  const random = seededRandom(seed, 0x40591, site);
  const missingRate = site === 0 ? 0 : 0.04 + 0.02 * (site % 3);
  const missing = () => random() < missingRate;
  const out: Patient[] = [];
  const smokers = ['never', 'former', 'current'] as const;
  for (let i = 0; i < count; i++) {
    const age = round(clip(58 + 4 * (site % 3) + 11 * gaussian(random), 25, 95), 0);
    const male = random() < 0.5;
    const smoker = pick(random, [0.5, 0.3, 0.2]);
    const bmi = clip(27 + 4.5 * gaussian(random), 15, 55);
    const systolic = clip(110 + 0.45 * age + 14 * gaussian(random), 80, 230);
    const glucose = clip(5.2 + 0.18 * (site % 3) + 1.1 * gaussian(random) + 0.02 * (bmi - 27), 2.5, 25);
    const cholesterol = clip(5.1 + 0.9 * gaussian(random), 2, 12);
    const risk = -0.4 + 0.055 * (age - 60) + 0.035 * (systolic - 137) + 0.55 * (glucose - 5.4) + 0.45 * (cholesterol - 5.1) + 0.08 * (bmi - 27) + (male ? 0.35 : 0) + [0, 0.35, 0.8][smoker]!;
    const high = random() < 1 / (1 + Math.exp(-1.6 * risk));
    const eventTime = -Math.log(1 - random()) / (0.0004 * Math.exp(0.7 * risk));
    const censor = 365 + random() * 1460;
    out.push({
      patient_id: `s${site}-${String(i).padStart(5, '0')}`,
      age,
      sex: male ? 'male' : 'female',
      smoker: missing() ? null : smokers[smoker]!,
      bmi: missing() ? null : round(bmi, 1),
      systolic_bp: round(systolic, 0),
      glucose: missing() ? null : round(glucose, 1),
      cholesterol: missing() ? null : round(cholesterol, 2),
      followup: round(Math.min(eventTime, censor), 0),
      event: eventTime <= censor,
      outcome: high ? 'high' : 'low',
    });
  }
  return out;
}

/** How site s keeps its records: which format, column order, units and spellings. */
interface SiteStyle {
  format: 'csv' | 'parquet' | 'arrow';
  columns: { header: string; value: (p: Patient) => string | number | boolean | null }[];
}

const mgdl = (mmol: number | null, molarMass: number) => (mmol === null ? null : round((mmol * molarMass) / 10, 0));

function styleOf(site: number): SiteStyle {
  const kind = site % 3;
  if (kind === 0) {
    // Schema order, schema units, schema spellings (Arrow from the fourth site on).
    return {
      format: site >= 3 ? 'arrow' : 'csv',
      columns: [
        { header: 'patient_id', value: (p) => p.patient_id },
        { header: 'age', value: (p) => p.age },
        { header: 'sex', value: (p) => p.sex },
        { header: 'smoker', value: (p) => p.smoker },
        { header: 'bmi', value: (p) => p.bmi },
        { header: 'systolic_bp', value: (p) => p.systolic_bp },
        { header: 'glucose', value: (p) => p.glucose },
        { header: 'cholesterol', value: (p) => p.cholesterol },
        { header: 'followup', value: (p) => p.followup },
        { header: 'event', value: (p) => p.event },
        { header: 'outcome', value: (p) => p.outcome },
      ],
    };
  }
  if (kind === 1) {
    // Another order, mass concentrations in mg/dL, pressure in kPa, F/M, yes/no.
    return {
      format: 'csv',
      columns: [
        { header: 'outcome', value: (p) => p.outcome },
        { header: 'glucose [mg/dL]', value: (p) => mgdl(p.glucose, GLUCOSE_MOLAR_MASS) },
        { header: 'sex', value: (p) => (p.sex === 'female' ? 'F' : 'M') },
        { header: 'systolic_bp [kPa]', value: (p) => round(p.systolic_bp * 0.133322, 2) },
        { header: 'cholesterol [mg/dL]', value: (p) => mgdl(p.cholesterol, CHOLESTEROL_MOLAR_MASS) },
        { header: 'age', value: (p) => p.age },
        { header: 'event', value: (p) => (p.event ? 'yes' : 'no') },
        { header: 'patient_id', value: (p) => p.patient_id },
        { header: 'followup', value: (p) => p.followup },
        { header: 'smoker', value: (p) => p.smoker },
        { header: 'bmi', value: (p) => p.bmi },
      ],
    };
  }
  // Parquet (Arrow from the sixth site on), yet another order, glucose in mg/dL, follow-up in weeks.
  return {
    format: site >= 3 ? 'arrow' : 'parquet',
    columns: [
      { header: 'patient_id', value: (p) => p.patient_id },
      { header: 'cholesterol', value: (p) => p.cholesterol },
      { header: 'bmi', value: (p) => p.bmi },
      { header: 'followup [week]', value: (p) => round(p.followup / 7, 3) },
      { header: 'event', value: (p) => p.event },
      { header: 'glucose [mg/dL]', value: (p) => mgdl(p.glucose, GLUCOSE_MOLAR_MASS) },
      { header: 'age', value: (p) => p.age },
      { header: 'sex', value: (p) => p.sex },
      { header: 'systolic_bp', value: (p) => p.systolic_bp },
      { header: 'smoker', value: (p) => p.smoker },
      { header: 'outcome', value: (p) => p.outcome },
    ],
  };
}

const csvCell = (v: string | number | boolean | null) => (v === null ? '' : typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));

export interface HospitalFile {
  site: number;
  path: string;
  /** The data spec a member at this site starts with. */
  spec: string;
  records: number;
}

export interface HospitalOptions {
  out: string;
  /** Default 3. */
  sites?: number;
  /** Records per site. Default 1200, 900, 600, 400, … (site s: max(400, 1200 − 300·s)). */
  sizes?: number[];
  seed?: number;
}

/** a, b, …, z, then s26, s27, …: the file name of site s. */
export function siteLetter(site: number): string {
  return site < 26 ? String.fromCharCode(97 + site) : `s${site}`;
}

export function siteSize(site: number): number {
  return Math.max(400, 1200 - 300 * site);
}

/** Writes every site's file and the schema (schema.json); returns the files with their specs. */
export async function writeHospitals(options: HospitalOptions): Promise<{ schema: string; files: HospitalFile[] }> {
  const sites = options.sites ?? 3;
  await mkdir(options.out, { recursive: true });
  const schemaPath = join(options.out, 'schema.json');
  await writeFile(schemaPath, `${JSON.stringify(HOSPITAL_SCHEMA_VALUE, null, 2)}\n`);
  const files: HospitalFile[] = [];
  for (let site = 0; site < sites; site++) {
    const patients = generatePatients(site, options.sizes?.[site] ?? siteSize(site), options.seed);
    const style = styleOf(site);
    const base = join(options.out, `hospital-${siteLetter(site)}`);
    let path: string;
    if (style.format === 'csv') {
      path = `${base}.csv`;
      const lines = [style.columns.map((c) => csvCell(c.header)).join(',')];
      for (const p of patients) lines.push(style.columns.map((c) => csvCell(c.value(p))).join(','));
      await writeFile(path, `${lines.join('\n')}\n`);
    } else if (style.format === 'parquet') {
      path = `${base}.parquet`;
      const columnData = style.columns.map((c) => {
        const data = patients.map((p) => c.value(p));
        const sample = data.find((v) => v !== null);
        return { name: c.header, data, type: typeof sample === 'number' ? ('DOUBLE' as const) : typeof sample === 'boolean' ? ('BOOLEAN' as const) : ('STRING' as const) };
      });
      await writeFile(path, new Uint8Array(parquetWriteBuffer({ columnData })));
    } else {
      path = `${base}.arrow`;
      const arrays: Record<string, unknown> = {};
      for (const c of style.columns) {
        const data = patients.map((p) => c.value(p));
        const sample = data.find((v) => v !== null);
        arrays[c.header] = typeof sample === 'number' ? Float64Array.from(data, (v) => (v === null ? NaN : (v as number))) : data;
      }
      await writeFile(path, tableToIPC(tableFromArrays(arrays as Parameters<typeof tableFromArrays>[0]), 'file'));
    }
    files.push({ site, path, spec: `${style.format}:${path},schema=${schemaPath},seed=${site}`, records: patients.length });
  }
  return { schema: schemaPath, files };
}

// Unit conversion through js-quantities (a maintained units library, UCUM-like names):
// a member's column may declare another unit of the same dimension as the schema's field
// (kPa for mmHg, degF for degC), and — when the field states its molar mass — a mass
// concentration for a molar one (mg/dL for mmol/L): c_molar = c_mass / M.

import Qty from 'js-quantities';

export function parseUnit(unit: string): Qty | undefined {
  try {
    return Qty(unit);
  } catch {
    return undefined;
  }
}

export type Converter = (value: number) => number;

const MASS_CONCENTRATION = 'kg/m^3';
const MOLAR_CONCENTRATION = 'mol/m^3';

/**
 * The function that converts values in `from` to `to`, or a reason it cannot: an unknown
 * unit, or another dimension (unless molarMass, in g/mol, bridges mass and molar concentration).
 */
export function converter(from: string, to: string, molarMass?: number): { convert: Converter } | { reason: string } {
  const source = parseUnit(from);
  if (!source) return { reason: `"${from}" is not a unit js-quantities knows` };
  const target = parseUnit(to);
  if (!target) return { reason: `"${to}" is not a unit js-quantities knows` };
  if (source.isCompatible(target)) return { convert: Qty.swiftConverter(from, to) as Converter };
  const massToMolar = source.isCompatible(MASS_CONCENTRATION) && target.isCompatible(MOLAR_CONCENTRATION);
  const molarToMass = source.isCompatible(MOLAR_CONCENTRATION) && target.isCompatible(MASS_CONCENTRATION);
  if (massToMolar || molarToMass) {
    if (molarMass === undefined) return { reason: `${from} (${source.kind()}) and ${to} (${target.kind()}) differ by a molar mass, which the schema does not state for this field` };
    const kgPerMol = molarMass / 1000;
    if (massToMolar) {
      const toSi = Qty.swiftConverter(from, MASS_CONCENTRATION) as Converter;
      const fromSi = Qty.swiftConverter(MOLAR_CONCENTRATION, to) as Converter;
      return { convert: (v) => fromSi(toSi(v) / kgPerMol) };
    }
    const toSi = Qty.swiftConverter(from, MOLAR_CONCENTRATION) as Converter;
    const fromSi = Qty.swiftConverter(MASS_CONCENTRATION, to) as Converter;
    return { convert: (v) => fromSi(toSi(v) * kgPerMol) };
  }
  return { reason: `${from} measures ${source.kind()}, ${to} measures ${target.kind()}` };
}

// The scenarios, by name. A new scenario is one module beside these and one line here (docs/architecture.md).
import type { Scenario } from '../../../contract/domain.ts';
import { cot } from './cot.ts';
import { edit } from './edit.ts';
import { reflect } from './reflect.ts';
import type { ScenarioModule } from './scenario.ts';
import { t2i } from './t2i.ts';
import { text } from './text.ts';
import { vqa } from './vqa.ts';

export const SCENARIO_MODULES: Readonly<Record<Scenario, ScenarioModule>> = { t2i, cot, text, vqa, edit, reflect };

export function scenarioModule(name: Scenario): ScenarioModule {
  const module = SCENARIO_MODULES[name];
  if (!module) throw new Error(`unknown scenario '${String(name)}' (known: ${Object.keys(SCENARIO_MODULES).join(', ')})`);
  return module;
}

// ShapeWorld and ShapeEval: the public surface. Import from here rather than from the files.
export { Rng, mixSeeds, seedFromText } from './rng.ts';
export {
  SHAPES,
  COLORS,
  PALETTE,
  BACKGROUNDS,
  BACKGROUND_RGB,
  SIZE_RANGE,
  MIN_GAP,
  sampleScene,
  placeObjects,
  validateScene,
  objectBox,
  type Shape,
  type ColorName,
  type BackgroundName,
  type Scene,
  type SceneObject,
  type Box,
} from './scene.ts';
export {
  assertImage,
  toUint8,
  toFloat,
  addGaussianNoise,
  boxBlur,
  noiseImage,
  meanAbsDiff,
  imageSimilarity,
  type ImageRGB,
} from './image.ts';
export { renderScene, renderSceneInto, DEFAULT_RESOLUTION, type RenderOptions } from './render.ts';
export { encodePng, decodePng } from './png.ts';
export {
  GENEVAL_TASKS,
  RELATIONS,
  validateSpec,
  matchesKind,
  type GenevalTask,
  type PromptTask,
  type Relation,
  type PromptSpec,
  type ObjectRequirement,
  type ObjectProhibition,
} from './spec.ts';
export { samplePrompt, sampleSpec, promptText, parsePrompt, sampleSceneForSpec, type Prompt } from './prompts.ts';
export { sampleVaguePrompt, extractAnswer, rewriteSatisfies, type VaguePrompt } from './vague.ts';
export { CRITERIA, CRITERION_NAMES, isCriterion, type Criterion } from './criteria.ts';
export { detectObjects, type DetectedObject, type ShapeFeatures } from './detect.ts';
export {
  score,
  evaluateObjects,
  groundTruth,
  relativePosition,
  sceneObjectsForEval,
  POSITION_THRESHOLD,
  type ScoreResult,
  type Verdict,
  type EvalObject,
} from './evaluate.ts';
export {
  EDIT_KINDS,
  sampleEdit,
  invertEdit,
  scoreEdit,
  cycleEditReward,
  cellOf,
  cellName,
  type Edit,
  type EditKind,
  type EditScore,
  type CycleEditReward,
  type Cell,
} from './edits.ts';
export {
  QUESTION_TYPES,
  sampleQuestionPair,
  questionPairFor,
  openQuestions,
  answerMatches,
  normalizeAnswer,
  type Question,
  type QuestionPair,
  type QuestionType,
} from './questions.ts';
export {
  REFLECTION_ERRORS,
  CORRECT_CRITIQUE,
  NO_FIX,
  sampleReflection,
  critiqueMentions,
  type ReflectionExample,
  type ReflectionError,
  type CritiqueVerdict,
} from './reflection.ts';
export {
  SUITE_NAMES,
  GENEVAL_SIZES,
  DEFAULT_SUITE_SEED,
  buildSuite,
  listSuites,
  type Suite,
  type SuiteTask,
  type SuiteOptions,
} from './suites.ts';
export {
  registerGenerator,
  createGenerator,
  listGenerators,
  oracleGenerator,
  noiseGenerator,
  type Generator,
  type GeneratorFactory,
  type TextToImageRequest,
  type EditRequest,
  type QuestionRequest,
  type CritiqueRequest,
  type RewriteRequest,
  type ReflectRequest,
  type ReflectResult,
  type ReflectRound,
} from './generators.ts';
export { runSuiteJob } from './jobs.ts';
export { FOLDER_RULES, metadataOf, scoreImageFolder, specOf, writePromptFolder, type FolderRule, type PromptMetadata } from './folder.ts';
export { runSuite, formatReport, type SuiteReport, type TaskReport, type SampleRecord, type RunOptions } from './benchmark.ts';

import { Migrate014InputSchema } from '../../core/migrate014/input.js';
import { makeValidateHandler } from '../validate.js';

export const handler = makeValidateHandler(Migrate014InputSchema);

// `vfs-runtime template create|status|remove`: Kata's VM template (@vfs/shim/template), saved with
// the effective configuration, in [factory] template_path.
import { runDir } from '@vfs/contracts';
import { poolLogger } from '@vfs/shim/pool';
import { createTemplate, removeTemplate, type TemplateMeta, templateFiles, templateStatus } from '@vfs/shim/template';
import type { TemplateCommand } from '../args';
import type { CliIo } from '../cli_io';
import { effectiveConfig } from '../effective_config';

const MIB = 1024 * 1024;

function summary(meta: TemplateMeta): string {
  return (
    `saved ${meta.createdAt}: ${meta.memoryMiB} MiB guest RAM of which ${(meta.memoryDataBytes / MIB).toFixed(1)} MiB ` +
    `held, device state ${(meta.stateBytes / 1024).toFixed(0)} KiB, booted in ${meta.bootMs} ms`
  );
}

async function create(io: CliIo): Promise<number> {
  const { loaded } = effectiveConfig(io.env);
  const meta = await createTemplate(loaded.config, runDir(io.env), poolLogger(loaded.config.runtime.log_level));
  io.out(`template ${loaded.config.factory.template_path}: ${summary(meta)}\n`);
  return 0;
}

async function status(io: CliIo, json: boolean): Promise<number> {
  const { loaded } = effectiveConfig(io.env);
  const { meta, matches, dir } = await templateStatus(loaded.config);
  const used = loaded.config.factory.enable_template && matches;
  if (json) {
    io.out(
      `${JSON.stringify({ dir, enabled: loaded.config.factory.enable_template, matches, used, template: meta ?? null }, null, 2)}\n`,
    );
    return 0;
  }
  if (meta === undefined) {
    io.out(`template ${dir}: none (vfs-runtime template create saves one)\n`);
    return 0;
  }
  const use = used
    ? 'new sandboxes resume it'
    : !matches
      ? 'saved under another configuration, build, QEMU or accelerator: not used (template create replaces it)'
      : 'not used: [factory] enable_template is false';
  io.out(`template ${dir}: ${summary(meta)}\n${use}\n`);
  return 0;
}

function remove(io: CliIo): number {
  const { loaded } = effectiveConfig(io.env);
  const files = templateFiles(loaded.config.factory.template_path);
  io.out(removeTemplate(files) ? `template ${files.dir}: removed\n` : `template ${files.dir}: none was saved\n`);
  return 0;
}

export async function runTemplate(io: CliIo, command: TemplateCommand): Promise<number> {
  switch (command.name) {
    case 'template create':
      return create(io);
    case 'template status':
      return status(io, command.json);
    case 'template remove':
      return remove(io);
  }
}

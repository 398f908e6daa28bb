// @vfs/shim/template: Kata's VM template (vfs-runtime template), saved from the shim's own VM
// bring-up so that a copy is exactly the VM a shim would boot.
export { createTemplate, type TemplateStatus, templateStatus } from './create_template';
export { removeTemplate, templateFiles, type TemplateMeta } from './template_store';

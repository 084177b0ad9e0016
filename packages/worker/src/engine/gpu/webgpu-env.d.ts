// The WebGPU IDL types (GPUDevice, GPUBuffer, ...) as globals for the engine's GPU modules.
/// <reference types="@webgpu/types" />
export {};

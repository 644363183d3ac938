/**
 * How the producer learns an upscale source's dimensions before enqueue, without decoding it: the store reads the
 * object's header and its image metadata is parsed. The CLI hands the producer one built on the worker's store
 * (`workers/stores/source-image-inspector.ts`); a producer without one does not check sources.
 */
export interface SourceImageInspector {
  /**
   * The stored image's width and height from its header.
   * @throws FleetError E_SOURCE when there is no such object or it is not an image; E_STORE when the store fails.
   */
  dimensions(key: string): Promise<{ width: number; height: number }>;
}

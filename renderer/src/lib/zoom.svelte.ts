// Synced zoom for comparing a group's images: one scale and one focus point shared by every image,
// so zooming or moving over one shows the same region of all of them.
export const MIN_ZOOM = 1;
export const MAX_ZOOM = 8;

export class SyncedZoom {
  scale = $state(1);
  /** Focus point as fractions of the image (0..1), the origin the scale grows from. */
  x = $state(0.5);
  y = $state(0.5);

  zoomBy(factor: number): void {
    this.scale = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.scale * factor));
  }

  focus(x: number, y: number): void {
    this.x = Math.min(1, Math.max(0, x));
    this.y = Math.min(1, Math.max(0, y));
  }

  reset(): void {
    this.scale = 1;
    this.x = 0.5;
    this.y = 0.5;
  }

  /** The CSS transform every image gets. */
  get style(): string {
    return `transform-origin: ${(this.x * 100).toFixed(1)}% ${(this.y * 100).toFixed(1)}%; transform: scale(${this.scale.toFixed(3)})`;
  }
}

"""What the network looks at: Grad-CAM and feature maps."""

"""What the HTTP layers share (api/ and web/, which import nothing from each other): request dependencies."""

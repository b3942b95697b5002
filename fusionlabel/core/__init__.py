"""Pure data model and geometry. Imports numpy, scipy and pyquaternion only: never Qt, vispy or torch."""

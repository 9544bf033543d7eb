"""Stage 5: Gaussian processes, from their foundations to emulators.

``tutorial``: the GP maths on Treloar's rubber data (one point, LOOCV against
the marginal likelihood); ``emulator``: GP emulators of the simulation over
(phi0, quench, t), their design and validation, and the 1D Cahn-Hilliard
emulator; ``summary``: the stage's summary pages.
"""

"""The SMPL rest skeleton: where the 24 joints of the gender-neutral SMPL body with zero shape sit.

SMPL world convention: Y up, Z forward (the body faces +Z at rest), X towards the body's left,
metres, T-pose, origin of SMPL's template mesh (so the pelvis sits 0.22 m below it and the feet
about 1.14 m below the pelvis). A SMPL sequence's ``trans`` moves the pelvis joint from its rest
place here: ``pelvis(t) = SMPL_NEUTRAL_REST_JOINTS[0] + trans(t)``.
"""

from __future__ import annotations

import numpy as np

SMPL_NEUTRAL_REST_JOINTS = np.array([
    [-0.0018, -0.2233, 0.0282], [0.0677, -0.3147, 0.0214], [-0.0695, -0.3139, 0.0239],
    [-0.0043, -0.1144, 0.0015], [0.1020, -0.6899, 0.0169], [-0.1078, -0.6964, 0.0150],
    [0.0012, 0.0208, 0.0026], [0.0884, -1.0879, -0.0268], [-0.0920, -1.0948, -0.0273],
    [0.0026, 0.0737, 0.0280], [0.1148, -1.1437, 0.0925], [-0.1174, -1.1430, 0.0961],
    [-0.0002, 0.2876, -0.0148], [0.0815, 0.1955, -0.0060], [-0.0791, 0.1926, -0.0106],
    [0.0050, 0.3526, 0.0365], [0.1724, 0.2260, -0.0149], [-0.1752, 0.2251, -0.0197],
    [0.4321, 0.2132, -0.0424], [-0.4289, 0.2118, -0.0411], [0.6813, 0.2222, -0.0435],
    [-0.6842, 0.2196, -0.0467], [0.7653, 0.2140, -0.0585], [-0.7688, 0.2134, -0.0570],
], dtype=np.float64)
"""(24, 3) rest joints of SMPL's neutral model with zero shape (``J_regressor @ v_template``), metres,
in the order of ``biohuman10m.vocabulary.SMPL_JOINT_NAMES``, rounded to 0.1 mm.

Published values: the parent-relative rest offsets of the neutral model that SMPL-based motion
projects ship (e.g. EDGE's ``SMPLSkeleton``; PHC's ``smpl_humanoid.xml`` body positions) agree to
0.1 mm and sum to these positions. Used wherever no subject-specific SMPL model is at hand: bone rest
directions when retargeting onto Anny or from BVH, the pelvis offset of ``trans``, forward kinematics
for PA-MPJPE over the 24 joints, and the default rest skeleton of the two-stage baseline.
"""

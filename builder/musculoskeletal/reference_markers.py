"""Marker names of the Rajagopal2016 walking trial (OpenSim's reference data) -> ULBS-112 landmarks.

Only the trial's markers that sit on our bony landmarks are mapped (its thigh/shank clusters have no
counterpart). Its elbow/forearm/wrist markers are left out: in its static trial the arms are held
abducted with the elbows bent, a pose the static fit does not recover reliably, so their placement
would be wrong.
"""

RAJAGOPAL_TO_ULBS: dict[str, str] = {
    "R.Shoulder": "acromion_r", "L.Shoulder": "acromion_l", "R.Clavicle": "clavicle_r", "L.Clavicle": "clavicle_l",
    "R.ASIS": "asis_r", "L.ASIS": "asis_l", "R.PSIS": "psis_r", "L.PSIS": "psis_l", "S2": "sacrum",
    "R.Knee": "knee_lateral_r", "L.Knee": "knee_lateral_l", "R.MKnee": "knee_medial_r", "L.MKnee": "knee_medial_l",
    "R.Ankle": "ankle_lateral_r", "L.Ankle": "ankle_lateral_l", "R.MAnkle": "ankle_medial_r",
    "L.MAnkle": "ankle_medial_l", "R.Heel": "heel_r", "L.Heel": "heel_l", "R.MT5": "mt5_head_r",
    "L.MT5": "mt5_head_l", "R.Toe": "toe_r", "L.Toe": "toe_l",
}

RAJAGOPAL_RUN_TO_ULBS: dict[str, str] = {
    "RACR": "acromion_r", "LACR": "acromion_l", "C7": "c7", "CLAV": "jugular_notch",
    "RASI": "asis_r", "LASI": "asis_l", "RPSI": "psis_r", "LPSI": "psis_l",
    "RLFC": "knee_lateral_r", "LLFC": "knee_lateral_l", "RMFC": "knee_medial_r", "LMFC": "knee_medial_l",
    "RLMAL": "ankle_lateral_r", "LLMAL": "ankle_lateral_l", "RMMAL": "ankle_medial_r", "LMMAL": "ankle_medial_l",
    "RCAL": "heel_r", "LCAL": "heel_l", "RMT5": "mt5_head_r", "LMT5": "mt5_head_l", "RTOE": "toe_r", "LTOE": "toe_l",
}
"""Marker names of the Rajagopal2016 running trial -> ULBS-112 landmarks. Its running trial has no
knee or ankle markers (only the static does): thigh and shank are tracked by the clusters below."""

RAJAGOPAL_RUN_CLUSTERS: dict[str, str] = {
    **{f"{s}TH{i}": f"femur_{s.lower()}" for s in "RL" for i in (1, 2, 3)},
    **{f"{s}TB{i}": f"tibia_{s.lower()}" for s in "RL" for i in (1, 2, 3)},
}
"""Thigh and shank marker clusters of the running trial -> the ULBS-112 body each is fixed to (their
locations on the body are read from the static trial after scaling)."""

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

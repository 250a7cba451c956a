"""Regenerate the shipped Anny marker table (builder/body/data/markers_anny.csv) from the landmark rules."""

from builder.body.anny_body import AnnyBody
from builder.body.landmarks import DATA_DIR, find_landmarks, write_marker_table

if __name__ == "__main__":
    write_marker_table(DATA_DIR / "markers_anny.csv", find_landmarks(AnnyBody().rest_body()))
    print(f"wrote {DATA_DIR / 'markers_anny.csv'}")

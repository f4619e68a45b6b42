"""The Fornax cluster agent: Missions down, status up, autonomy when the uplink is cut."""

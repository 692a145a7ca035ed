"""Classification of numeric series (sensor readings, heartbeats, UCR/UEA sets): one label per series."""

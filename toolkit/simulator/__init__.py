"""A simulated Android handset that speaks the real ADB wire protocol on loopback (tests and the demo)."""

from toolkit.simulator.profile import DeviceProfile, ProfileError, load_profile
from toolkit.simulator.server import DeviceSimulator, Faults

__all__ = ["DeviceProfile", "DeviceSimulator", "Faults", "ProfileError", "load_profile"]

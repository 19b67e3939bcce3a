"""Cameras: the backends and the supervisor that keeps one working for the booth."""

from booth.devices.camera.supervisor import (AutoCamera, Camera, CameraSupervisor, FolderCamera,
                                             OpenCVCamera, Picamera2Camera, backend_factory)

__all__ = ["AutoCamera", "Camera", "CameraSupervisor", "FolderCamera", "OpenCVCamera",
           "Picamera2Camera", "backend_factory"]

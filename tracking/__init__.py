"""Optical flow, box propagation, detection linking and temporal-coherence error estimation.

Depends on numpy, OpenCV and PyMaxflow (torch only for the optional RAFT flow); never
imports :mod:`vidal`.
"""

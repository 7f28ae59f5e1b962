"""Compile time: definition text -> validated model -> linked closures."""

"""express: Amazon States Language workflows, run the way AWS runs Express workflows."""

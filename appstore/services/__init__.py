"""App-store writes: uploads, review, repositories and sync. Every change is audited."""

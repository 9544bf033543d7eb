"""Cross-simulator transfer: test sets the shipped model never trained on, their scores, and a
model-discrepancy term learned leave-one-set-out (docs/transfer.md)."""

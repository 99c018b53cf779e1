"""The text-aware baselines: SASRecText and UniSRec, over the item representation HierRec reads."""

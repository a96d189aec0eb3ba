"""The science as plain functions on pymatgen/ASE objects, testable without jobflow."""

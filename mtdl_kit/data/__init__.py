"""Datasets: fresh phantoms by index (:mod:`.phantom`) and the bundled sample store (:mod:`.samples`)."""

"""The contract end to end, around one package fixture: `make up` once, checks by layer, `make down`."""

"""HL7 v2 door: ER7 messages over HTTP (POST /hl7/v2) and MLLP, mapped onto the event pipeline."""

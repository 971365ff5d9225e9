// The store's API speaks JSON values (payloads, filters): re-export them.
@_exported import SwitchyardJSON
